"""The pickup terminal: finished documents handed out from the machine, journaled."""
