"""Identity at the machine: the face at the camera compared with the document photo, with
liveness, before anything is issued or handed out (renewal and pickup terminals)."""
