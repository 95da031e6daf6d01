"""Staff mode at the machine: PIN sign-in behind a hidden long press, the machine's status
and the few things staff do there. Offered on every terminal type with a staff PIN."""
