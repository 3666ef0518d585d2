"""Bring-up: the one description of each node graph, and the two ways to start it.

`graphs.py` describes each graph as data. `launch_description.py` turns a description into a launch_ros
LaunchDescription (for `ros2 launch`); `runner.py` starts the very same processes without the launch
package (the pip/venv path). Neither holds a second copy of the graph.
"""
