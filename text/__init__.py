"""Text as a phone carries it: GSM-7/UCS-2 encoding, screen and segment cost, grammar checks.

Below every other package (it imports nothing of ours): the USSD renderer and linter (menus)
and the SMS templates (sms) measure texts with the same rules.
"""
