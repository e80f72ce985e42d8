"""Wire formats of the token service (form bodies, JSON responses, discovery documents); no I/O."""
