# Schemathesis hooks for scripts/fuzz-api.sh: lets it send generated strings as text/csv bodies.
import schemathesis


@schemathesis.serializer("text/csv")
class CsvSerializer:
    def as_requests(self, context, value):
        return {"data": value if isinstance(value, (str, bytes)) else str(value)}

    def as_werkzeug(self, context, value):
        return {"data": value if isinstance(value, (str, bytes)) else str(value)}
