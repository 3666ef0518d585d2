"""operator_ui in-process with the real reward_button: HTTP actions and, in headless Chromium, real clicks
and key presses produce the right episode events, and the page follows the success rate live (SSE)."""
import json
import shutil
import threading
import time
import urllib.request

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool

from residual_rl_ros.msg import EpisodeEvent
from residual_rl_ros.nodes.operator_ui import OperatorUi
from residual_rl_ros.nodes.reward_button import RewardButton
from residual_rl_ros.ros import qos


@pytest.fixture
def live(context):
    """reward_button + operator_ui (free port) + a probe, spun in a background thread."""
    button = RewardButton(context=context, parameter_overrides=[Parameter('reset_duration_s', value=0.05)])
    ui = OperatorUi(context=context, parameter_overrides=[Parameter('port', value=0)])
    probe = Node('ui_probe', context=context)
    seen = {'events': [], 'estop': []}
    probe.create_subscription(EpisodeEvent, 'episode_events', lambda m: seen['events'].append((m.event, m.episode_id)),
                              qos.EVENTS)
    probe.create_subscription(Bool, 'estop', lambda m: seen['estop'].append(m.data), qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    for node in (button, ui, probe):
        executor.add_node(node)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)])
    thread.start()
    deadline = time.monotonic() + 10
    while not ui.label_client.service_is_ready():
        assert time.monotonic() < deadline, 'reward_button/label never came up'
        time.sleep(0.05)
    yield ui, seen
    stop.set()
    thread.join()
    executor.shutdown()
    for node in (probe, ui, button):
        node.destroy_node()


def _until(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met before the deadline'
        time.sleep(0.05)


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url + 'api/action', json.dumps(payload).encode(),
                                     {'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_http_actions_become_episode_events_and_refusals_are_explained(live) -> None:
    ui, seen = live
    assert _post(ui.url, {'action': 'start'})['ok']
    assert _post(ui.url, {'action': 'success'})['ok']
    double = _post(ui.url, {'action': 'success'})
    assert double['ok'] and 'double click' in double['message']
    assert not _post(ui.url, {'action': 'fly'})['ok']
    _until(lambda: (EpisodeEvent.RESET, 1) in seen['events'])
    assert seen['events'][:2] == [(EpisodeEvent.START, 1), (EpisodeEvent.SUCCESS, 1)]
    state = json.loads(urllib.request.urlopen(ui.url + 'api/state', timeout=5).read())
    assert state['success_rate'] == 1.0 and state['episodes'][0]['outcome'] == 'SUCCESS'
    paused = _post(ui.url, {'action': 'pause'})
    assert not paused['ok'] and 'trainer/set_parameters' in paused['message']     # no trainer in this test


def _browser():
    webdriver = pytest.importorskip('selenium.webdriver')
    chromium, driver = shutil.which('chromium'), shutil.which('chromedriver')
    if not (chromium and driver):
        pytest.skip('chromium and chromedriver are not installed (scripts/setup_venv.sh installs them)')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--window-size=1280,900'):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_clicks_in_headless_chromium_label_episodes_and_the_page_follows_live(live) -> None:
    ui, seen = live
    browser = _browser()
    from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                            TimeoutException)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    rerendered = (StaleElementReferenceException, NoSuchElementException)   # live updates replace elements

    def wait(timeout_s: float, predicate) -> object:
        return WebDriverWait(browser, timeout_s, ignored_exceptions=rerendered).until(predicate)

    def text_is(element_id: str, value: str) -> None:
        wait(10, lambda b: b.find_element(By.ID, element_id).text == value)

    def click(element_id: str) -> None:
        wait(10, lambda b: b.find_element(By.ID, element_id).click() or True)

    def start(episode: str, press=lambda: click('btn-start')) -> None:
        """Start once the reset phase is over (a Start during the reset is refused: retry)."""
        for _ in range(10):
            press()
            try:
                return wait(1, lambda b: b.find_element(By.ID, 'ep-id').text == episode)
            except TimeoutException:
                continue
        raise AssertionError(f'episode {episode} never started')

    try:
        browser.get(ui.url)
        text_is('link', 'live')
        text_is('success-rate', '-')
        start('1')
        click('btn-success')
        text_is('success-rate', '100%')                    # live, no reload
        start('2', lambda: wait(5, lambda b: b.find_element(By.TAG_NAME, 'body').send_keys('s') or True))  # key
        click('btn-failure')
        text_is('success-rate', '50%')
        start('3')
        click('btn-abort')
        wait(10, lambda b: 'ABORT' in b.find_element(By.ID, 'episode-3').text)
        text_is('success-rate', '50%')   # a truncation is not a label
        click('btn-estop')
        _until(lambda: seen['estop'] == [True])
        ends = [e for e in seen['events'] if e[0] not in (EpisodeEvent.RESET,)]
        assert ends == [(EpisodeEvent.START, 1), (EpisodeEvent.SUCCESS, 1), (EpisodeEvent.START, 2),
                        (EpisodeEvent.FAILURE, 2), (EpisodeEvent.START, 3), (EpisodeEvent.ABORT, 3)]
    finally:
        browser.quit()


def test_a_busy_port_is_named_and_shutdown_stays_clean() -> None:
    import socket

    import rclpy
    context = rclpy.Context()       # its own: shutting it down destroys the half-built node
    rclpy.init(context=context)
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f'127.0.0.1:{port}.*"port" parameter'):
            OperatorUi(context=context, parameter_overrides=[Parameter('port', value=port)])
    context.try_shutdown()          # no AttributeError from the missing server
