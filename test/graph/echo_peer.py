"""A separate process for graph tests: echoes every custom message type from ping/<Type> to pong/<Type>."""
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from residual_rl_ros import msg as interfaces
from residual_rl_ros.ros import qos

TYPES = ['BaseAction', 'EpisodeEvent', 'Observation', 'PolicyActionRecord', 'PolicyWeights', 'TrainerStatus']


class EchoPeer(Node):
    def __init__(self) -> None:
        super().__init__('echo_peer')
        for name in TYPES:
            msg_type = getattr(interfaces, name)
            publisher = self.create_publisher(msg_type, f'pong/{name}', qos.EVENTS)
            self.create_subscription(msg_type, f'ping/{name}', publisher.publish, qos.EVENTS)


def main() -> int:
    rclpy.init()
    node = EchoPeer()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('echo_peer ready', flush=True)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
