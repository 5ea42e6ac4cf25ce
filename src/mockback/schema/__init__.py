"""The API's shapes (pydantic), validated at the edge and converted to domain values here only."""
