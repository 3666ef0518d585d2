"""ROS 2 nodes: one thin adapter per file, each with a `main()`."""
