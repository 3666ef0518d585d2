"""Rosbag2 recording and reading without rclpy (the pure-Python `rosbags` library).

`typestore` registers our interfaces, `writer` records raw CDR bytes into flushed, size/duration-limited
mcap (or sqlite3) splits, `reader` reads one or many bags in time order (and what a crash left behind),
`decode` turns our messages into core types, `replay` rebuilds transitions with the core's one
TransitionAssembler, `demo_import` maps bags of other tools to demonstration episodes.
The core never imports this package; nodes and apps do.
"""
