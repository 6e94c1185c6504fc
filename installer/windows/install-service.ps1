<#
.SYNOPSIS
  Installs the Posture Agent daemon as a Windows service (LocalSystem), with recovery options.

.DESCRIPTION
  Written from the documentation of New-Service (Microsoft.PowerShell.Management) and
  sc.exe failure / failureflag / sidtype; not yet run on Windows (no Windows machine in this
  project's CI). See docs/daemon.md.

  A Windows service must answer the Service Control Manager (StartServiceCtrlDispatcher,
  SERVICE_CONTROL_STOP ...). Node.js does not, so the service binary is a service host that
  starts `posture.exe daemon` and turns a stop request into the daemon's clean shutdown. That
  host (ServiceHost below) is not part of the project yet; until it exists this script documents
  the intended definition and checks its own inputs.

.PARAMETER InstallDir
  Folder holding posture-service.exe (the service host) and posture.exe.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'Posture Agent')
)

$ErrorActionPreference = 'Stop'
$ServiceName = 'PostureAgent'
$ServiceHost = Join-Path $InstallDir 'posture-service.exe'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw 'Run this script as an administrator.'
}
if (-not (Test-Path -LiteralPath $ServiceHost -PathType Leaf)) {
  throw "The service host $ServiceHost is missing."
}

if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
  throw "The service $ServiceName exists already; remove it first (sc.exe delete $ServiceName)."
}

# The quoted path keeps "Program Files" from being split (an unquoted service path is a known
# privilege-escalation hole). No -Credential: the service runs as LocalSystem, so privileged
# probes (BitLocker, Windows Update) work.
New-Service -Name $ServiceName `
  -BinaryPathName ('"{0}" daemon' -f $ServiceHost) `
  -DisplayName 'Posture Agent' `
  -Description 'Checks device posture, keeps a signed attestation fresh, serves the local API.' `
  -StartupType Automatic | Out-Null

# Recovery: restart after 5 s, 5 s, then 60 s; forget failures after a day. failureflag 1 also
# applies the actions when the service stops with an error, not only when it crashes.
& sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/60000 | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe failure returned $LASTEXITCODE" }
& sc.exe failureflag $ServiceName 1 | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe failureflag returned $LASTEXITCODE" }
# A service SID of its own (NT SERVICE\PostureAgent), so files and the named pipe's ACL can
# name this service rather than all of LocalSystem.
& sc.exe sidtype $ServiceName unrestricted | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe sidtype returned $LASTEXITCODE" }

Start-Service -Name $ServiceName
Write-Output "Installed and started $ServiceName."
