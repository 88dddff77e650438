"""Use the client generated from the live /openapi.json as an API consumer would."""

print("placeholder")
