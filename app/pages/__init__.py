"""Pages for people, server-rendered, outside /api/v1: sign-in, sign-out, the forced password
change and the home page. They call the same services as the API."""
