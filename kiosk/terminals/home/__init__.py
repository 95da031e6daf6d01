"""The shell every terminal shares: attract loop, service menu, out of service, the ID card
steps and the message-screen helpers the service flows are built from."""
