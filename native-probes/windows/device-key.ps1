<#
.SYNOPSIS
  Posture Agent device-key helper for Windows: a non-exportable ECDSA P-256 key in a CNG key storage
  provider: the TPM through the "Microsoft Platform Crypto Provider" (-Provider Platform), or, for the
  service on a machine without a TPM, the "Microsoft Software Key Storage Provider" (-Provider
  Software; the agent reports it as key_protection "os_keystore", never "tpm"). Prints one JSON
  object (protocol posture-native/1, probe "device_key"; see native-probes/PROTOCOL.md) and exits 0.
  Written against the .NET Framework CngKey documentation; not run by the team (no Windows here).
.PARAMETER Op       create | public | sign | delete
.PARAMETER Name     the key's name in the provider
.PARAMETER Provider Platform (TPM) | Software
.PARAMETER Machine  a machine key (CngKeyCreationOptions.MachineKey / CngKeyOpenOptions.MachineKey,
                    NCRYPT_MACHINE_KEY_FLAG): the service (LocalSystem) owns it; without it, a key of
                    the calling user's profile
.PARAMETER Digest   base64url SHA-256 digest to sign (Op sign)
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)][ValidateSet('create', 'public', 'sign', 'delete')][string]$Op,
  [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9._-]{1,64}$')][string]$Name,
  [ValidateSet('Platform', 'Software')][string]$Provider = 'Platform',
  [switch]$Machine,
  [string]$Digest
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Add-Type -AssemblyName System.Core

function Write-Result([hashtable]$Envelope) {
  $Envelope['protocol'] = 'posture-native/1'
  $Envelope['probe'] = 'device_key'
  [Console]::Out.Write(($Envelope | ConvertTo-Json -Depth 4 -Compress))
}
function Write-Failure([string]$Code, [string]$Message) { Write-Result @{ ok = $false; error = @{ code = $Code; message = $Message } } }
function ConvertTo-Base64Url([byte[]]$Bytes) { [Convert]::ToBase64String($Bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_') }
function ConvertFrom-Base64Url([string]$Text) {
  $s = $Text.Replace('-', '+').Replace('_', '/')
  switch ($s.Length % 4) { 2 { $s += '==' } 3 { $s += '=' } }
  [Convert]::FromBase64String($s)
}

if ($Provider -eq 'Platform') {
  $provider = New-Object System.Security.Cryptography.CngProvider('Microsoft Platform Crypto Provider')
} else {
  $provider = [System.Security.Cryptography.CngProvider]::MicrosoftSoftwareKeyStorageProvider
}
if ($Machine) {
  $openOptions = [System.Security.Cryptography.CngKeyOpenOptions]::MachineKey
  $createOptions = [System.Security.Cryptography.CngKeyCreationOptions]::MachineKey
} else {
  $openOptions = [System.Security.Cryptography.CngKeyOpenOptions]::None
  $createOptions = [System.Security.Cryptography.CngKeyCreationOptions]::None
}
function Open-Key { [System.Security.Cryptography.CngKey]::Open($Name, $provider, $openOptions) }
function Test-Key { [System.Security.Cryptography.CngKey]::Exists($Name, $provider, $openOptions) }

function Get-PublicXY([System.Security.Cryptography.CngKey]$Key) {
  # BCRYPT_ECCKEY_BLOB: magic (4 bytes), key length (4 bytes), X, Y.
  $blob = $Key.Export([System.Security.Cryptography.CngKeyBlobFormat]::EccPublicBlob)
  @{ x = ConvertTo-Base64Url $blob[8..39]; y = ConvertTo-Base64Url $blob[40..71] }
}

try {
  switch ($Op) {
    'create' {
      if (Test-Key) { Write-Failure 'failed' "a key named $Name already exists"; break }
      $params = New-Object System.Security.Cryptography.CngKeyCreationParameters
      $params.Provider = $provider
      $params.ExportPolicy = [System.Security.Cryptography.CngExportPolicies]::None
      $params.KeyCreationOptions = $createOptions
      try {
        $key = [System.Security.Cryptography.CngKey]::Create([System.Security.Cryptography.CngAlgorithm]::ECDsaP256, $Name, $params)
      } catch [System.Security.Cryptography.CryptographicException] {
        # Only a missing TPM is "unsupported" (the agent may then choose another store); a software
        # provider that fails is a plain failure.
        if ($Provider -eq 'Platform') { Write-Failure 'unsupported' "no usable TPM through the Platform Crypto Provider: $($_.Exception.Message)"; break }
        Write-Failure 'failed' "the Software Key Storage Provider could not make the key: $($_.Exception.Message)"; break
      }
      $data = Get-PublicXY $key
      $data['ref'] = $Name
      Write-Result @{ ok = $true; data = $data }
    }
    'public' {
      $key = Open-Key
      Write-Result @{ ok = $true; data = (Get-PublicXY $key) }
    }
    'sign' {
      $digestBytes = ConvertFrom-Base64Url $Digest
      if ($digestBytes.Length -ne 32) { Write-Failure 'failed' 'the digest must be 32 bytes (SHA-256)'; break }
      $key = Open-Key
      $ecdsa = New-Object System.Security.Cryptography.ECDsaCng($key)
      # ECDsaCng.SignHash returns IEEE P1363 r||s.
      Write-Result @{ ok = $true; data = @{ signature = (ConvertTo-Base64Url $ecdsa.SignHash($digestBytes)); format = 'p1363' } }
    }
    'delete' {
      if (Test-Key) { (Open-Key).Delete() }
      Write-Result @{ ok = $true; data = @{} }
    }
  }
} catch {
  Write-Failure 'failed' $_.Exception.Message
}
exit 0
