// Posture Agent device-key helper for macOS: a P-256 key in the Secure Enclave (non-exportable),
// found again by its application tag. Prints one JSON object (protocol posture-native/1, probe
// "device_key"; see native-probes/PROTOCOL.md) and exits 0.
//
//   posture-keyhelper create <name> | public <name> | sign <name> <base64url SHA-256 digest> | delete <name>
//
// Build (on a Mac, Xcode 15+): swiftc -O -o posture-keyhelper keyhelper.swift
// Secure Enclave keys need the binary to be code-signed with a keychain-access-groups entitlement;
// the installer signs it. Not compiled or run by the team yet: no Mac was available.
import Foundation
import Security

func emit(_ object: [String: Any]) -> Never {
  var envelope = object
  envelope["protocol"] = "posture-native/1"
  envelope["probe"] = "device_key"
  let data = try! JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys])
  FileHandle.standardOutput.write(data)
  exit(0)
}

func fail(_ code: String, _ message: String) -> Never {
  emit(["ok": false, "error": ["code": code, "message": message]])
}

func base64url(_ data: Data) -> String {
  data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    .replacingOccurrences(of: "=", with: "")
}

func fromBase64url(_ text: String) -> Data? {
  var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
  while s.count % 4 != 0 { s += "=" }
  return Data(base64Encoded: s)
}

func tag(_ name: String) -> Data { "org.posture-agent.device-key.\(name)".data(using: .utf8)! }

func findKey(_ name: String) -> SecKey? {
  let query: [String: Any] = [
    kSecClass as String: kSecClassKey,
    kSecAttrApplicationTag as String: tag(name),
    kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
    kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
    kSecReturnRef as String: true,
  ]
  var item: CFTypeRef?
  guard SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess, let found = item else { return nil }
  return (found as! SecKey)
}

func publicXY(_ key: SecKey) -> [String: String] {
  guard let pub = SecKeyCopyPublicKey(key), let raw = SecKeyCopyExternalRepresentation(pub, nil) as Data?, raw.count == 65 else {
    fail("failed", "cannot read the public key")
  }
  // ANSI X9.63: 0x04 || X || Y
  return ["x": base64url(raw.subdata(in: 1..<33)), "y": base64url(raw.subdata(in: 33..<65))]
}

let args = CommandLine.arguments
guard args.count >= 3 else { fail("failed", "usage: posture-keyhelper create|public|sign|delete <name> [digest]") }
let op = args[1]
let name = args[2]

switch op {
case "create":
  if findKey(name) != nil { fail("failed", "a key named \(name) already exists") }
  var error: Unmanaged<CFError>?
  guard let access = SecAccessControlCreateWithFlags(nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, .privateKeyUsage, &error) else {
    fail("failed", "cannot create access control")
  }
  let attributes: [String: Any] = [
    kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
    kSecAttrKeySizeInBits as String: 256,
    kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
    kSecPrivateKeyAttrs as String: [
      kSecAttrIsPermanent as String: true,
      kSecAttrApplicationTag as String: tag(name),
      kSecAttrAccessControl as String: access,
    ],
  ]
  guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
    let message = error?.takeRetainedValue().localizedDescription ?? "unknown error"
    fail("unsupported", "no usable Secure Enclave: \(message)")
  }
  var data: [String: Any] = publicXY(key)
  data["ref"] = name
  emit(["ok": true, "data": data])
case "public":
  guard let key = findKey(name) else { fail("failed", "no key named \(name)") }
  emit(["ok": true, "data": publicXY(key)])
case "sign":
  guard args.count >= 4, let digest = fromBase64url(args[3]), digest.count == 32 else { fail("failed", "the digest must be 32 bytes of base64url") }
  guard let key = findKey(name) else { fail("failed", "no key named \(name)") }
  var error: Unmanaged<CFError>?
  guard let signature = SecKeyCreateSignature(key, .ecdsaSignatureDigestX962SHA256, digest as CFData, &error) as Data? else {
    fail("failed", error?.takeRetainedValue().localizedDescription ?? "signing failed")
  }
  // Security.framework returns X9.62 DER; the agent converts it to JOSE r||s.
  emit(["ok": true, "data": ["signature": base64url(signature), "format": "der"]])
case "delete":
  let query: [String: Any] = [kSecClass as String: kSecClassKey, kSecAttrApplicationTag as String: tag(name)]
  let status = SecItemDelete(query as CFDictionary)
  if status != errSecSuccess && status != errSecItemNotFound { fail("failed", "delete failed: \(status)") }
  emit(["ok": true, "data": [:] as [String: String]])
default:
  fail("failed", "unknown operation \(op)")
}
