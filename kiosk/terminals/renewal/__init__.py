"""The renewal terminal: endorsements renewed, paid for by phone and issued; the look-up of
the current one."""
