<#
.SYNOPSIS
  Posture Agent native helper for Windows. Prints exactly one JSON object (protocol posture-native/1,
  see native-probes/PROTOCOL.md) describing one probe, then exits 0.
.PARAMETER Probe
  bitlocker | firewall | os_version | updates
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)]
  [ValidateSet('bitlocker', 'firewall', 'os_version', 'updates')]
  [string]$Probe
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

function Write-Result([hashtable]$Envelope) {
  $Envelope['protocol'] = 'posture-native/1'
  $Envelope['probe'] = $Probe
  [Console]::Out.Write(($Envelope | ConvertTo-Json -Depth 4 -Compress))
}

function Write-Failure([string]$Code, [string]$Message) {
  Write-Result @{ ok = $false; error = @{ code = $Code; message = $Message } }
}

function Test-Admin {
  $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
  (New-Object Security.Principal.WindowsPrincipal($identity)).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Get-BitLockerData {
  if (-not (Test-Admin)) {
    Write-Failure 'insufficient_privilege' 'Reading BitLocker status (Win32_EncryptableVolume) needs administrator rights.'
    return
  }
  $systemDrive = (Get-CimInstance -ClassName Win32_OperatingSystem).SystemDrive
  try {
    $volumes = @(Get-CimInstance -Namespace 'root\CIMV2\Security\MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume)
  } catch [Microsoft.Management.Infrastructure.CimException] {
    Write-Failure 'unsupported' "BitLocker is not available on this Windows edition ($($_.Exception.Message))."
    return
  }
  $out = foreach ($v in $volumes) {
    $conversion = Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus
    $protection = Invoke-CimMethod -InputObject $v -MethodName GetProtectionStatus
    $method = Invoke-CimMethod -InputObject $v -MethodName GetEncryptionMethod
    @{
      MountPoint           = $v.DriveLetter
      VolumeType           = $v.VolumeType
      VolumeStatus         = $conversion.ConversionStatus
      EncryptionPercentage = $conversion.EncryptionPercentage
      ProtectionStatus     = $protection.ProtectionStatus
      EncryptionMethod     = $method.EncryptionMethod
    }
  }
  Write-Result @{ ok = $true; data = @{ systemDrive = $systemDrive; volumes = @($out) } }
}

function Get-FirewallData {
  $profiles = Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
    @{ Name = [string]$_.Name; Enabled = [int]$_.Enabled }
  }
  Write-Result @{ ok = $true; data = @{ profiles = @($profiles) } }
}

function Get-OsVersionData {
  $cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
  $data = @{}
  foreach ($name in 'CurrentBuild', 'UBR', 'DisplayVersion', 'ReleaseId', 'ProductName', 'EditionID', 'InstallationType') {
    if ($cv.PSObject.Properties.Name -contains $name) { $data[$name] = $cv.$name }
  }
  Write-Result @{ ok = $true; data = $data }
}

function Get-UpdatesData {
  $session = New-Object -ComObject 'Microsoft.Update.Session'
  $searcher = $session.CreateUpdateSearcher()
  $searcher.Online = $false
  $result = $searcher.Search('IsInstalled=0 and IsHidden=0')
  $updates = foreach ($u in $result.Updates) {
    @{
      Title                    = $u.Title
      KBArticleIDs             = @($u.KBArticleIDs)
      MsrcSeverity             = $u.MsrcSeverity
      Categories               = @($u.Categories | ForEach-Object { $_.Name })
      LastDeploymentChangeTime = $u.LastDeploymentChangeTime
      RebootRequired           = [bool]$u.RebootRequired
    }
  }
  $auto = (New-Object -ComObject 'Microsoft.Update.AutoUpdate').Results
  $hotfix = Get-CimInstance -ClassName Win32_QuickFixEngineering | Where-Object { $_.InstalledOn } | Sort-Object InstalledOn -Descending | Select-Object -First 1
  $data = @{
    updates                     = @($updates)
    rebootRequired              = [bool](New-Object -ComObject 'Microsoft.Update.SystemInfo').RebootRequired
    lastSearchSuccessDate       = $auto.LastSearchSuccessDate
    lastInstallationSuccessDate = $auto.LastInstallationSuccessDate
  }
  if ($hotfix) { $data['lastHotfixInstalledOn'] = $hotfix.InstalledOn }
  Write-Result @{ ok = $true; data = $data }
}

try {
  switch ($Probe) {
    'bitlocker' { Get-BitLockerData }
    'firewall' { Get-FirewallData }
    'os_version' { Get-OsVersionData }
    'updates' { Get-UpdatesData }
  }
} catch [System.UnauthorizedAccessException] {
  Write-Failure 'insufficient_privilege' $_.Exception.Message
} catch {
  Write-Failure 'failed' $_.Exception.Message
}
exit 0
