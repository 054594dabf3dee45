"""The one exception tree of Jembatan, with stable error codes.

Every error the gateway raises on purpose is a :class:`GatewayError`. Each carries a stable
code ``GW-NNNN`` (first digit = stage), a human message, an optional location (FHIRPath,
HL7 v2 position, JSON pointer, line:col) and the HTTP status the API answers with::

    GatewayError                      GW-0xxx  (base; never raised directly)
    ├── CodecError                    GW-1xxx  bytes <-> native model failed          422/400
    │   ├── UnknownFormat             GW-1001  no codec registered for a format id     400
    │   └── DecodeError               GW-11xx  payload is not what the format says      422
    ├── MappingError                  GW-2xxx  versioned code mappings                  422
    │   ├── MappingNotFound           GW-2101  map id / version not in the registry     422
    │   ├── MappingFileInvalid        GW-2102  a mapping file fails its schema / naming 500*
    │   └── PublishedMappingChanged   GW-2103  a published version's digest changed     500*
    ├── TerminologyError              GW-3xxx  terminology store and operations         400/404/422
    ├── ConformanceError              GW-4xxx  validator misconfiguration (never bad input) 500*
    ├── DeliveryError                 GW-5xxx  upstream delivery                        502/503
    │   ├── TransientDeliveryError    GW-51xx  worth retrying (429, 5xx, timeouts)
    │   └── PermanentDeliveryError    GW-52xx  goes to the dead letter state
    ├── RequestError                  GW-6xxx  HTTP API usage                           4xx
    │   ├── AuthError                 GW-6101 missing key, GW-6102 wrong/revoked, GW-6103 channel  401/403
    │   ├── PayloadTooLarge           GW-6201                                            413
    │   ├── UnsupportedMediaType      GW-6202                                            415
    │   ├── MalformedRequest          GW-6203                                            400
    │   └── NotFound                  GW-6404                                            404
    └── ConfigError                   GW-7xxx  configuration, channels, storage setup   500*

(*) configuration faults: the operator must fix files or settings; the API still answers an
OperationOutcome, never a traceback.

Bad *input* (an invalid payload, an unmapped code) is reported as located issues in an
:class:`conformance.outcome.Outcome`; exceptions are for things that stop the work.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every deliberate error; carries ``code``, ``message``, ``location``, ``status``."""

    default_code = "GW-0000"
    status = 500
    issue_type = "exception"  # FHIR IssueType used when rendered as an OperationOutcome

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        *,
        location: str | None = None,
        status: int | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self.__class__.__name__
        self.location = location
        if status is not None:
            self.status = status
        super().__init__(f"{self.code}: {self.message}")


class CodecError(GatewayError):
    default_code = "GW-1100"
    status = 422
    issue_type = "structure"


class UnknownFormat(CodecError):
    default_code = "GW-1001"
    status = 400
    issue_type = "not-supported"


class DecodeError(CodecError):
    default_code = "GW-1101"


class MappingError(GatewayError):
    default_code = "GW-2000"
    status = 422
    issue_type = "code-invalid"


class MappingNotFound(MappingError):
    default_code = "GW-2101"
    issue_type = "not-found"


class MappingFileInvalid(MappingError):
    default_code = "GW-2102"
    status = 500
    issue_type = "invalid"


class PublishedMappingChanged(MappingError):
    default_code = "GW-2103"
    status = 500
    issue_type = "conflict"


class TerminologyError(GatewayError):
    default_code = "GW-3000"
    status = 400
    issue_type = "code-invalid"


class ConformanceError(GatewayError):
    default_code = "GW-4000"
    status = 500
    issue_type = "exception"


class DeliveryError(GatewayError):
    default_code = "GW-5000"
    status = 502
    issue_type = "transient"


class TransientDeliveryError(DeliveryError):
    default_code = "GW-5100"
    status = 503


class PermanentDeliveryError(DeliveryError):
    default_code = "GW-5200"
    status = 502
    issue_type = "processing"


class RequestError(GatewayError):
    default_code = "GW-6000"
    status = 400
    issue_type = "invalid"


class AuthError(RequestError):
    default_code = "GW-6101"
    status = 401
    issue_type = "login"


class PayloadTooLarge(RequestError):
    default_code = "GW-6201"
    status = 413
    issue_type = "too-costly"


class UnsupportedMediaType(RequestError):
    default_code = "GW-6202"
    status = 415
    issue_type = "not-supported"


class MalformedRequest(RequestError):
    default_code = "GW-6203"
    status = 400
    issue_type = "invalid"


class NotFound(RequestError):
    default_code = "GW-6404"
    status = 404
    issue_type = "not-found"


class ConfigError(GatewayError):
    default_code = "GW-7000"
    status = 500
    issue_type = "exception"


__all__ = [
    "AuthError",
    "CodecError",
    "ConfigError",
    "ConformanceError",
    "DecodeError",
    "DeliveryError",
    "GatewayError",
    "MalformedRequest",
    "MappingError",
    "MappingFileInvalid",
    "MappingNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PermanentDeliveryError",
    "PublishedMappingChanged",
    "RequestError",
    "TerminologyError",
    "TransientDeliveryError",
    "UnknownFormat",
    "UnsupportedMediaType",
]
