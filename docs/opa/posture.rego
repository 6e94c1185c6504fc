# Example OPA policy: ask the Posture Agent verifier about the request, then add your own rules.
# Input: the Envoy ext_authz CheckRequest that OPA-Envoy receives (input.attributes.request.http).
package posture.authz

import rego.v1

default allow := false

http_request := input.attributes.request.http

# The decision of the verifier (POST /v1/verify), with the original method, URL and headers.
# The verifier answers /v1/verify only for its trusted proxies or a bearer token whose SHA-256 is in
# verifyTokenSha256: give OPA that token in POSTURE_VERIFIER_VERIFY_TOKEN.
decision := http.send({
	"method": "POST",
	"url": "http://127.0.0.1:8443/v1/verify",
	"headers": {
		"content-type": "application/json",
		"authorization": concat(" ", ["Bearer", opa.runtime().env.POSTURE_VERIFIER_VERIFY_TOKEN]),
	},
	"body": {
		"method": http_request.method,
		"url": sprintf("%s://%s%s", [http_request.scheme, http_request.host, http_request.path]),
		"headers": http_request.headers,
	},
	"timeout": "2s",
	"raise_error": false,
}).body

# Allow only what the verifier allows; then narrow further, e.g. payroll only from hardware-held keys.
allow if {
	decision.allowed == true
	not payroll_without_hardware_key
}

payroll_without_hardware_key if {
	startswith(http_request.path, "/payroll")
	not hardware_key
}

# decision.device.keyProtection is the protection recorded when the device enrolled, never what an
# attestation claims (an attestation claiming another one is denied: key_protection_mismatch). It is
# as claimed by the device at enrollment, not yet proven by hardware attestation: the verifier says
# so in decision.device.keyProtectionSource ("claimed_at_enrollment"). Rely on it as far as you trust
# the enrollment (who handed out the token, to which machine); once key attestation proves it
# ("hardware_attested"), require that here instead.
trusted_key_protection_sources := {"claimed_at_enrollment"}

hardware_key if {
	decision.device.keyProtection in {"tpm", "secure_enclave"}
	decision.device.keyProtectionSource in trusted_key_protection_sources
}

# Why not, for logs and deny pages.
reasons := [r.code | some r in decision.reasons]
