# Accuracy of one model under one attack at each eps of the white-box grid.
sweep_rule("whitebox", "whitebox", Plan.whitebox_spec)
