// Posture Agent device-key helper for macOS: a P-256 key protected by the Secure Enclave
// (non-exportable). Prints one JSON object (protocol posture-native/1, probe "device_key"; see
// native-probes/PROTOCOL.md) and exits 0. Two homes for the key:
//
// A user's agent (a name): SecKeyCreateRandomKey with the Secure Enclave token, kept in the user's
// data protection keychain and found again by its application tag; signs a SHA-256 digest.
//   posture-keyhelper create <name> | public <name> | sign <name> <base64url SHA-256 digest> | delete <name>
//
// The LaunchDaemon (--blob <absolute path>): a daemon has no data protection keychain (TN3137, "On
// Mac keychain APIs and implementations"), so the SecItem route cannot keep a Secure Enclave key for
// it. CryptoKit's SecureEnclave.P256.Signing.PrivateKey is kept nowhere by the system: its
// dataRepresentation is the key wrapped so that only this Mac's Secure Enclave can unwrap and use it
// (Apple DTS, developer forums threads 708749 and 786223). The helper writes that blob to the given
// path, created exclusively with mode 0600 (the agent's state folder is root-only, 0700), and reads it
// back for each operation. CryptoKit hashes the message itself and returns raw r||s.
//   posture-keyhelper create --blob <path> | public --blob <path>
//                   | sign --blob <path> --message <base64url message> | delete --blob <path>
//
// Build (on a Mac, Xcode 15+): swiftc -O -o posture-keyhelper keyhelper.swift
// The keychain mode needs the binary to be code-signed with a keychain-access-groups entitlement;
// the installer signs it. The --blob mode uses no keychain. Not compiled or run by the team yet: no
// Mac was available; written against Apple's CryptoKit and Security documentation.
import CryptoKit
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

func xy(_ key: SecureEnclave.P256.Signing.PrivateKey) -> [String: String] {
  // x963Representation: 0x04 || X || Y
  let raw = key.publicKey.x963Representation
  guard raw.count == 65 else { fail("failed", "cannot read the public key") }
  return ["x": base64url(raw.subdata(in: 1..<33)), "y": base64url(raw.subdata(in: 33..<65))]
}

func loadBlob(_ path: String) -> SecureEnclave.P256.Signing.PrivateKey {
  guard let data = FileManager.default.contents(atPath: path) else { fail("failed", "no key at \(path)") }
  do {
    return try SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: data)
  } catch {
    // Another Mac's blob, a reset Secure Enclave, or a damaged file.
    fail("failed", "this Mac's Secure Enclave cannot use the key at \(path): \(error.localizedDescription)")
  }
}

/// The LaunchDaemon's key: CryptoKit, its wrapped form in a root-only file (see the top).
func runBlob(_ op: String, _ args: [String]) -> Never {
  guard args.count >= 4, args[2] == "--blob", args[3].hasPrefix("/") else {
    fail("failed", "usage: posture-keyhelper <op> --blob <absolute path> [--message <base64url>]")
  }
  let path = args[3]
  switch op {
  case "create":
    guard SecureEnclave.isAvailable else { fail("unsupported", "this Mac has no Secure Enclave") }
    if FileManager.default.fileExists(atPath: path) { fail("failed", "a key already exists at \(path)") }
    var error: Unmanaged<CFError>?
    // Usable without a logged-in user (the daemon starts at boot), only on this device.
    guard let access = SecAccessControlCreateWithFlags(nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, .privateKeyUsage, &error) else {
      fail("failed", "cannot create access control")
    }
    let key: SecureEnclave.P256.Signing.PrivateKey
    do {
      key = try SecureEnclave.P256.Signing.PrivateKey(compactRepresentable: false, accessControl: access)
    } catch {
      fail("unsupported", "no usable Secure Enclave: \(error.localizedDescription)")
    }
    // O_CREAT|O_EXCL with 0600: never overwrites, never readable by others.
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else { fail("failed", "cannot create \(path): errno \(errno)") }
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    handle.write(key.dataRepresentation)
    guard fsync(fd) == 0 else { fail("failed", "cannot flush \(path): errno \(errno)") }
    var data: [String: Any] = xy(key)
    data["ref"] = path
    emit(["ok": true, "data": data])
  case "public":
    emit(["ok": true, "data": xy(loadBlob(path))])
  case "sign":
    guard args.count >= 6, args[4] == "--message", let message = fromBase64url(args[5]) else {
      fail("failed", "sign needs --message <base64url>")
    }
    let key = loadBlob(path)
    do {
      // signature(for:) hashes with SHA-256; rawRepresentation is r||s (IEEE P1363).
      let signature = try key.signature(for: message)
      emit(["ok": true, "data": ["signature": base64url(signature.rawRepresentation), "format": "p1363"]])
    } catch {
      fail("failed", "signing failed: \(error.localizedDescription)")
    }
  case "delete":
    if FileManager.default.fileExists(atPath: path) {
      do { try FileManager.default.removeItem(atPath: path) } catch { fail("failed", "delete failed: \(error.localizedDescription)") }
    }
    emit(["ok": true, "data": [:] as [String: String]])
  default:
    fail("failed", "unknown operation \(op)")
  }
}

let args = CommandLine.arguments
guard args.count >= 3 else { fail("failed", "usage: posture-keyhelper create|public|sign|delete <name> [digest]") }
let op = args[1]
if args[2] == "--blob" { runBlob(op, args) }
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
