"""Franka Panda block tasks (BlockPush, BlockLift): scene, control, tasks (shared by sim and real)."""
