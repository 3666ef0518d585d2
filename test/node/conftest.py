"""In-process rclpy fixtures (shared with the graph tier): a private context per test, spun with a deadline."""
from ros_fixtures import context, spin_until  # noqa: F401 (fixtures)
