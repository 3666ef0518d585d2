"""Recipe: paper defaults, range checks naming the field, and a dict round trip."""
from __future__ import annotations

import pytest

from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.recipe import LearnerRecipe, NetworkRecipe, ReplayRecipe, ResidualRecipe

pytestmark = pytest.mark.core


def test_defaults_follow_the_paper():
    recipe = ResidualRecipe()
    assert recipe.network.actor_hidden_sizes == [1024, 1024] and recipe.network.num_critic_heads == 10
    assert recipe.network.action_scale == 0.1 and recipe.learner.actor_lr == 1e-6
    assert (recipe.learner.critic_lr, recipe.learner.target_tau, recipe.learner.n_step) == (1e-4, 0.005, 3)
    assert recipe.replay.demo_fraction == 0.5


def test_round_trip_through_a_plain_dict():
    recipe = ResidualRecipe(network=NetworkRecipe(actor_hidden_sizes=[64]), seed=7)
    assert from_dict(ResidualRecipe, to_dict(recipe)) == recipe


@pytest.mark.parametrize('kwargs, message', [
    ({'learner': LearnerRecipe(critic_lr=-1.0)}, 'critic_lr'),
    ({'network': NetworkRecipe(num_target_heads=12)}, 'num_target_heads'),
    ({'network': NetworkRecipe(phase_encoding='fourier')}, 'phase_encoding'),
    ({'replay': ReplayRecipe(demo_fraction=0.8, intervention_fraction=0.5)}, 'fraction'),
])
def test_invalid_values_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResidualRecipe(**kwargs)
