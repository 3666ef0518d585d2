"""The training report: success curve from episodes.jsonl, robust to a line cut short by a kill."""
import json

import numpy as np

from residual_rl_ros.apps.report import read_episodes, success_curve, write_report


def test_moving_success_rate_over_labelled_episodes(tmp_path) -> None:
    rows = [{'episode_id': i, 'success': s, 'env_steps': 10 * (i + 1)}
            for i, s in enumerate([False, True, None, True, True])]
    (tmp_path / 'episodes.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows) + '{"episode_id": 9, "su')
    episodes = read_episodes(tmp_path)
    assert len(episodes) == 5
    steps, rate = success_curve(episodes, window=2)
    np.testing.assert_array_equal(steps, [10, 20, 40, 50])
    np.testing.assert_allclose(rate, [0.0, 0.5, 1.0, 1.0])
    assert write_report(tmp_path, 'test', baseline=0.4).stat().st_size > 1000
