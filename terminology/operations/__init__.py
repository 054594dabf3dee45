"""The FHIR terminology operations over a :class:`~terminology.workspace.Workspace`: Parameters in, FHIR JSON out.

No I/O here: the workspace gives access to stored and inline resources. One module per operation
family: :mod:`.lookup` ($lookup, $subsumes), :mod:`.expansion` ($expand), :mod:`.validation`
($validate-code), :mod:`.translation` ($translate).
"""

from terminology.operations.common import DEFAULT_LIMIT
from terminology.operations.expansion import expand
from terminology.operations.lookup import lookup, subsumes
from terminology.operations.translation import translate
from terminology.operations.validation import validate_code_cs, validate_code_vs

__all__ = ["DEFAULT_LIMIT", "expand", "lookup", "subsumes", "translate", "validate_code_cs", "validate_code_vs"]
