"""Personal data: the inventory, retention, sealed values' rotation and a citizen's rights.

Sits below the edge (gateway) and above the stores it reads (civic, payments, sms, sessions):
each store contributes one collector (personal_data/collectors.py) to export and erasure.
"""
