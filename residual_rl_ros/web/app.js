// Operator page: live state over server-sent events, actions as JSON POSTs, keyboard shortcuts.
'use strict';
const KEYS = {s: 'start', y: 'success', n: 'failure', a: 'abort', u: 'undo', e: 'estop', p: 'pause', r: 'resume'};
const $ = (id) => document.getElementById(id);
let state = null;

async function act(action, extra = {}) {
  const body = JSON.stringify(Object.assign({action}, extra));
  try {
    const response = await fetch('/api/action', {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
    const result = await response.json();
    $('message').textContent = (result.ok ? '' : 'refused: ') + result.message;
  } catch (err) {
    $('message').textContent = 'no answer from the operator node: ' + err;
  }
}

document.querySelectorAll('button[data-action]').forEach((button) => {
  button.addEventListener('click', () => {
    const action = button.dataset.action;
    act(action, action === 'pin' ? {version: parseInt($('pin-version').value || '0', 10)} : {});
  });
});

document.addEventListener('keydown', (event) => {
  if (event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey) return;
  const action = KEYS[event.key.toLowerCase()] || (event.key === 'Escape' ? 'estop' : null);
  if (action) { event.preventDefault(); act(action); }
});

const pct = (x) => (x === null || x === undefined ? '-' : (100 * x).toFixed(0) + '%');
const num = (x, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(digits));

function chart(canvas, series) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  series.forEach(({values, color}) => {
    const points = values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined && isFinite(v));
    if (points.length < 2) return;
    const ys = points.map(([, v]) => v);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    const n = Math.max(values.length - 1, 1);
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
    points.forEach(([i, v], k) => {
      const x = 4 + (w - 8) * i / n, y = h - 14 - (h - 24) * (v - lo) / (hi - lo);
      if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = color; ctx.font = '11px sans-serif';
    ctx.fillText(`${num(lo, 3)} .. ${num(hi, 3)}`, 6, h - 2);
  });
}

function row(episode) {
  const tr = document.createElement('tr');
  tr.id = `episode-${episode.id}`;
  const cells = [episode.id, episode.outcome || (state.current && state.current.id === episode.id ? 'running' : '-'),
    episode.steps, episode.interventions, episode.labels.join(' > ')];
  cells.forEach((text) => { const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); });
  const td = document.createElement('td');
  if (episode.outcome === 'TIMEOUT' || episode.outcome === 'ABORT') {
    [['success', '\u2713'], ['failure', '\u2717']].forEach(([action, label]) => {
      const b = document.createElement('button');
      b.textContent = label; b.title = `label episode ${episode.id} ${action}`;
      b.addEventListener('click', () => act(action, {episode_id: episode.id}));
      td.appendChild(b);
    });
  }
  tr.appendChild(td);
  return tr;
}

function render() {
  if (!state) return;
  const s = state, t = s.trainer || {}, safety = s.safety || {};
  $('phase').textContent = s.phase;
  $('trainer-state').textContent = 'trainer ' + (t.state_name || '-');
  $('ep-id').textContent = s.current ? s.current.id : '-';
  $('ep-steps').textContent = s.current ? s.current.steps : 0;
  $('ep-interventions').textContent = s.current ? s.current.interventions : 0;
  $('window').textContent = s.window;
  $('success-rate').textContent = pct(s.success_rate);
  $('intervention-rate').textContent = pct(s.intervention_rate);
  $('policy-version').textContent = t.policy_version ?? '-';
  $('acting-version').textContent = s.acting_version;
  $('env-steps').textContent = t.env_steps ?? '-';
  $('critic-updates').textContent = t.critic_updates ?? '-';
  $('buffers').textContent = t.online_transitions === undefined ? '-' :
    `${t.online_transitions} / ${t.demo_transitions} / ${t.intervention_transitions}`;
  $('safety').textContent = safety.message === undefined ? '-' :
    `${safety.message}; holds ${safety.holds}${safety.last_hold_reason ? ' (' + safety.last_hold_reason + ')' : ''}` +
    `${safety.teleop_active === 'True' ? '; TELEOP' : ''}`;
  $('safety').style.color = safety.level >= 2 ? '#c62828' : (safety.level === 1 ? '#e65100' : '#1d2330');
  const LEVEL_COLORS = ['#2e7d32', '#e65100', '#c62828', '#6d4c41'];
  $('health').replaceChildren(...(s.health || []).map((h) => {
    const li = document.createElement('li');
    li.textContent = `${h.name}: ${h.message}${h.level && h.behaviour ? ' -> ' + h.behaviour : ''}`;
    li.style.color = LEVEL_COLORS[Math.min(h.level, 3)];
    return li;
  }));
  const body = document.querySelector('#episodes tbody');
  body.replaceChildren(...s.episodes.map(row));
  $('log').replaceChildren(...s.log.map((line) => { const li = document.createElement('li'); li.textContent = line; return li; }));
  chart($('chart-loss'), [{values: s.curves.map((c) => c.critic_loss), color: '#c62828'}]);
  chart($('chart-q'), [{values: s.curves.map((c) => c.q_mean), color: '#1565c0'}]);
  chart($('chart-updates'), [{values: s.curves.map((c) => c.critic_updates), color: '#2e7d32'},
                             {values: s.curves.map((c) => c.policy_version), color: '#6a1b9a'}]);
}

setInterval(() => {
  if (state && state.current) $('ep-elapsed').textContent = (Date.now() / 1000 - state.current.start_s).toFixed(1);
}, 100);

function connect() {
  const source = new EventSource('/events');
  source.addEventListener('state', (event) => {
    state = JSON.parse(event.data);
    $('link').textContent = 'live'; $('link').className = 'pill ok';
    render();
  });
  source.onerror = () => { $('link').textContent = 'reconnecting...'; $('link').className = 'pill bad'; };
}
connect();
