<#
.SYNOPSIS
  Posture Agent device-key helper for Windows: a non-exportable ECDSA P-256 key in the TPM through the
  CNG "Microsoft Platform Crypto Provider". Prints one JSON object (protocol posture-native/1,
  probe "device_key"; see native-probes/PROTOCOL.md) and exits 0.
.PARAMETER Op     create | public | sign | delete
.PARAMETER Name   the key's name in the provider (per user)
.PARAMETER Digest base64url SHA-256 digest to sign (Op sign)
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)][ValidateSet('create', 'public', 'sign', 'delete')][string]$Op,
  [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9._-]{1,64}$')][string]$Name,
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

$provider = New-Object System.Security.Cryptography.CngProvider('Microsoft Platform Crypto Provider')

function Get-PublicXY([System.Security.Cryptography.CngKey]$Key) {
  # BCRYPT_ECCKEY_BLOB: magic (4 bytes), key length (4 bytes), X, Y.
  $blob = $Key.Export([System.Security.Cryptography.CngKeyBlobFormat]::EccPublicBlob)
  @{ x = ConvertTo-Base64Url $blob[8..39]; y = ConvertTo-Base64Url $blob[40..71] }
}

try {
  switch ($Op) {
    'create' {
      if ([System.Security.Cryptography.CngKey]::Exists($Name, $provider)) { Write-Failure 'failed' "a key named $Name already exists"; break }
      $params = New-Object System.Security.Cryptography.CngKeyCreationParameters
      $params.Provider = $provider
      $params.ExportPolicy = [System.Security.Cryptography.CngExportPolicies]::None
      try {
        $key = [System.Security.Cryptography.CngKey]::Create([System.Security.Cryptography.CngAlgorithm]::ECDsaP256, $Name, $params)
      } catch [System.Security.Cryptography.CryptographicException] {
        Write-Failure 'unsupported' "no usable TPM through the Platform Crypto Provider: $($_.Exception.Message)"; break
      }
      $data = Get-PublicXY $key
      $data['ref'] = $Name
      Write-Result @{ ok = $true; data = $data }
    }
    'public' {
      $key = [System.Security.Cryptography.CngKey]::Open($Name, $provider)
      Write-Result @{ ok = $true; data = (Get-PublicXY $key) }
    }
    'sign' {
      $digestBytes = ConvertFrom-Base64Url $Digest
      if ($digestBytes.Length -ne 32) { Write-Failure 'failed' 'the digest must be 32 bytes (SHA-256)'; break }
      $key = [System.Security.Cryptography.CngKey]::Open($Name, $provider)
      $ecdsa = New-Object System.Security.Cryptography.ECDsaCng($key)
      # ECDsaCng.SignHash returns IEEE P1363 r||s.
      Write-Result @{ ok = $true; data = @{ signature = (ConvertTo-Base64Url $ecdsa.SignHash($digestBytes)); format = 'p1363' } }
    }
    'delete' {
      if ([System.Security.Cryptography.CngKey]::Exists($Name, $provider)) { [System.Security.Cryptography.CngKey]::Open($Name, $provider).Delete() }
      Write-Result @{ ok = $true; data = @{} }
    }
  }
} catch {
  Write-Failure 'failed' $_.Exception.Message
}
exit 0
