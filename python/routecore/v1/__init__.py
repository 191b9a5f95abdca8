"""Generated gRPC code for routecore.v1 (`make proto`); do not edit."""
