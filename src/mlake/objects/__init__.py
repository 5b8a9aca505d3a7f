"""Objects: unstructured files (images, text, audio, anything) as rows of object tables in the lake.

See :mod:`mlake.objects.service` for how objects are stored and read, and :mod:`mlake.objects.metadata`
for what is extracted from their content.
"""

from __future__ import annotations

from mlake.errors import ObjectError
from mlake.objects.metadata import ObjectMetadata, extract
from mlake.objects.models import ObjectInfo
from mlake.objects.service import OBJECT_SCHEMA, AddReport, LakeObjects

__all__ = ["OBJECT_SCHEMA", "AddReport", "LakeObjects", "ObjectError", "ObjectInfo", "ObjectMetadata", "extract"]
