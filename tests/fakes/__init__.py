"""Fakes of network services we do not own, speaking their real protocols on loopback."""
