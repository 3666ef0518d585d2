"""A planar two-link arm's forward kinematics (elbow and hand points, metres): a task-provided FK for tests."""
import numpy as np

LINKS_M = (0.5, 0.4)


def fk(q: np.ndarray) -> np.ndarray:
    elbow = LINKS_M[0] * np.array([np.cos(q[0]), np.sin(q[0]), 0.0])
    hand = elbow + LINKS_M[1] * np.array([np.cos(q[0] + q[1]), np.sin(q[0] + q[1]), 0.0])
    return np.stack([elbow, hand])
