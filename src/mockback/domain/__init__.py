"""Pure values of Mockback: mocks, callbacks, deliveries, errors. No I/O lives here."""
