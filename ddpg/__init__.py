"""DDPG (Lillicrap et al. 2015) in PyTorch. Importing the package registers the Rocket-v0 env."""
from ddpg import envs  # noqa: F401  (registers Rocket-v0 with gymnasium)
