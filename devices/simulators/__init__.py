"""Device simulators speaking the exact bytes of the real devices over real transports."""
