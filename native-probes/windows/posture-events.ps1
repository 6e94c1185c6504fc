<#
.SYNOPSIS
  Posture Agent event helper for Windows: a long-running script that prints one JSON line per event on
  stdout (protocol "posture-events/1"; see native-probes/PROTOCOL.md, "Event helpers"), read by the
  daemon through its exec module (src/agent/daemon/events/native-events.ts):
    {"v":1,"event":"ready"}                                   listeners registered (detail says if one failed)
    {"v":1,"event":"network","detail":"NetworkAddressChanged"}
    {"v":1,"event":"sleep","detail":"Win32_PowerManagementEvent 4"}
    {"v":1,"event":"wake","detail":"Win32_PowerManagementEvent 7"}
  A line only asks the daemon to re-probe; the probes read the posture themselves.
.DESCRIPTION
  Run by the daemon exactly as the probes are (src/host/powershell.ts):
  %SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe -NoLogo -NoProfile -NonInteractive
    -ExecutionPolicy Bypass -File <install dir>\native-probes\windows\posture-events.ps1

  What it relies on (Microsoft's documentation, checked through the team's search tool):
  - WMI class Win32_PowerManagementEvent (CIMWin32 provider, an __ExtrinsicEvent), property EventType
    (uint16): 4 Entering Suspend, 7 Resume from Suspend, 10 Power Status Change, 11 OEM Event,
    18 Resume Automatic. 4 is "sleep"; 7 and 18 are "wake" (a resume may announce both: the daemon's
    debouncer makes one re-check of them); 10 and 11 are ignored. Subscribed with
    Register-CimIndicationEvent -ClassName Win32_PowerManagementEvent, or Register-WmiEvent -Class
    Win32_PowerManagementEvent when the CIM subscription fails.
  - System.Net.NetworkInformation.NetworkChange.NetworkAddressChanged (.NET Framework 2.0+): "Occurs when
    the IP address of a network interface changes". A static event: Register-ObjectEvent is given the
    type itself as -InputObject.
  - Wait-Event returns the next queued event (or $null after -Timeout); Remove-Event takes it off the queue.

  The daemon stops the helper by ending its process. Windows has no parent-death signal: a write to
  a closed stdout fails and ends the script, and every 60 s without events the script checks that
  the process that started it still exists (same id, same start time) and exits when it does not.
  If neither listener can be registered it exits 1 with a message on stderr; the daemon retries with a
  growing delay. Polling covers every gap.

  NOT run by the team: no Windows (and no pwsh) was available; written against the documentation above.
#>
[CmdletBinding()]
param()

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

function Write-EventLine([string]$Name, [string]$Detail) {
  $line = [ordered]@{ v = 1; event = $Name }
  if ($Detail) { $line['detail'] = $Detail }
  [Console]::Out.WriteLine(($line | ConvertTo-Json -Compress))
  [Console]::Out.Flush()
}

function Get-ParentProcess {
  $self = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $PID"
  $parent = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $($self.ParentProcessId)"
  if ($null -eq $parent) { return $null }
  @{ Id = $parent.ProcessId; Created = $parent.CreationDate }
}

function Test-ParentAlive($Parent) {
  if ($null -eq $Parent) { return $true } # unknown at start: rely on the broken pipe
  $now = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $($Parent.Id)"
  ($null -ne $now) -and ($now.CreationDate -eq $Parent.Created)
}

$failed = @()
try {
  Register-CimIndicationEvent -ClassName Win32_PowerManagementEvent -SourceIdentifier 'posture.power' | Out-Null
} catch {
  try {
    Register-WmiEvent -Class Win32_PowerManagementEvent -SourceIdentifier 'posture.power' | Out-Null
  } catch {
    [Console]::Error.WriteLine("posture-events: cannot subscribe to Win32_PowerManagementEvent: $($_.Exception.Message)")
    $failed += 'power'
  }
}
try {
  Register-ObjectEvent -InputObject ([System.Net.NetworkInformation.NetworkChange]) -EventName 'NetworkAddressChanged' -SourceIdentifier 'posture.network' | Out-Null
} catch {
  [Console]::Error.WriteLine("posture-events: cannot subscribe to NetworkAddressChanged: $($_.Exception.Message)")
  $failed += 'network'
}
if ($failed.Count -eq 2) {
  [Console]::Error.WriteLine('posture-events: no listener could be registered')
  exit 1
}
if ($failed.Count -eq 1) {
  Write-EventLine 'ready' "$($failed[0]) listener failed"
} else {
  Write-EventLine 'ready' $null
}

$parent = Get-ParentProcess
while ($true) {
  $next = Wait-Event -Timeout 60
  if ($null -eq $next) {
    if (-not (Test-ParentAlive $parent)) { exit 0 }
    continue
  }
  try {
    switch ($next.SourceIdentifier) {
      'posture.power' {
        $type = [int]$next.SourceEventArgs.NewEvent.EventType
        if ($type -eq 4) { Write-EventLine 'sleep' "Win32_PowerManagementEvent $type" }
        elseif ($type -eq 7 -or $type -eq 18) { Write-EventLine 'wake' "Win32_PowerManagementEvent $type" }
      }
      'posture.network' { Write-EventLine 'network' 'NetworkAddressChanged' }
    }
  } finally {
    Remove-Event -EventIdentifier $next.EventIdentifier -ErrorAction SilentlyContinue
  }
}
