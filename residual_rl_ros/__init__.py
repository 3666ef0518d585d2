"""residual_rl_ros: residual off-policy RL for fine-tuning behavior-cloning policies on ROS 2 robots."""
# The generated interfaces (residual_rl_ros.msg / .srv) may live in another directory of the same
# package (an installed prefix) than these hand-written modules (a source checkout): join both.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = '0.1.0'
