"""Event buses: live delivery of run events (in-process, Redis Streams) behind one seam."""
