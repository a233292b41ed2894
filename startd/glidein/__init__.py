"""Glide-ins: pilots that run startds inside batch allocations (Slurm, PBS), and the
commands that submit, show and cancel them."""
