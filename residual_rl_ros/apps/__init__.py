"""Entry points that run whole jobs (the README's main job), built on the core and the bring-up."""
