"""Request bodies, validated by pydantic through the Powertools event handler.

Types are strict (a JSON string is not an id, a number is not a question) and unknown fields are ignored,
as most JSON APIs do, so clients may send extra keys. One module per kind of body, and nothing imported here:
a handler imports only the module of its own body, so its cold start builds no other model.
"""
