from pydantic import BaseModel, Field


class Filter(BaseModel):
    """What to match."""

    kind: str = Field(description="Shape kind, like circle")
    min_area: float = 0.0
