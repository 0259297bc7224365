"""View logic shared by the API and the pages; plain functions over the runtime's stores."""


class FieldError(ValueError):
    """A request field holds a value the service cannot answer for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
