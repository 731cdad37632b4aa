# One audit attack on one model: per-image correctness at the audit's eps (and its sweep for FGSM / PGD).
sweep_rule("audit", "audit", Plan.audit_spec)

