"""The emulated Salesforce: orgs and their rules (models.py), a SOQL subset (soql.py), SOAP helpers
(soap.py) and the HTTP surface simple-salesforce and zeep talk to (wire.py)."""
