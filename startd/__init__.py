"""The startd: machine resources, slots, owner policy, running jobs, and glide-in mode."""
