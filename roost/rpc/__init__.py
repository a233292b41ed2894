"""gRPC stubs generated from proto/roost/rpc/*.proto by scripts/gen_rpc.py; do not edit."""
