# One entry point for a new user on Windows (PowerShell 5.1 or later, or pwsh); run.sh's twin.
#   .\run.ps1          set everything up (venv, models, index) and open the browser chat
#   .\run.ps1 test     set everything up and run the test suite
#   .\run.ps1 setup    set up only
# If scripts are blocked: powershell -ExecutionPolicy Bypass -File .\run.ps1
# After the Python packages, `assistant setup` does the rest (checks, models, first index) and names
# the fix for anything missing (Build Tools for llama-cpp-python, Tesseract for scanned PDFs).
# Downloads and builds are cached in $env:ASSISTANT_HOME (default %LOCALAPPDATA%\nl-gov-assistant\Cache):
# models\ (about 2.8 GB), pip\ (wheels, including the compiled llama-cpp-python).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Set-Location -LiteralPath $PSScriptRoot

# The cache folder the assistant itself uses on Windows (platformdirs' user cache folder).
if (-not $env:ASSISTANT_HOME) { $env:ASSISTANT_HOME = Join-Path $env:LOCALAPPDATA 'nl-gov-assistant\Cache' }
$env:PIP_CACHE_DIR = Join-Path $env:ASSISTANT_HOME 'pip'
$env:PIP_DISABLE_PIP_VERSION_CHECK = '1'
# Python's UTF-8 mode: files and redirected output in UTF-8, not the ANSI code page (cp1252 cannot
# write the arrows and accents in the tests' and the evaluation's text).
$env:PYTHONUTF8 = '1'
$Mode = if ($args.Count -gt 0) { [string]$args[0] } else { 'chat' }
$Rest = @(if ($args.Count -gt 1) { $args[1..($args.Count - 1)] })
$Venv = if ($env:ASSISTANT_VENV) { $env:ASSISTANT_VENV } else { '.venv' }

function Step([string]$Text) { [Console]::Error.WriteLine("`n==> $Text") }

# Run a program; stop the script when it fails. Its stderr stays plain text: with 'Stop', PowerShell 5.1
# would turn the first line a program writes there (pip's notices, setup's ==> lines) into an error.
function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try { & $Exe @Arguments } finally { $ErrorActionPreference = $saved }
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed (exit code $LASTEXITCODE)" }
}

# The Python to make the venv with: $env:PYTHON, else the launcher's 3.11 (py -3.11), else python.
function Find-Python {
    if ($env:PYTHON) { return @($env:PYTHON) }
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        if (Get-Command py -ErrorAction SilentlyContinue) {
            & py -3.11 --version *> $null
            if ($LASTEXITCODE -eq 0) { return @('py', '-3.11') }
        }
        if (Get-Command python -ErrorAction SilentlyContinue) {
            & python --version *> $null  # the Microsoft Store's stand-in fails here
            if ($LASTEXITCODE -eq 0) { return @('python') }
        }
    } finally { $ErrorActionPreference = $saved }
    throw 'Python 3.10 or newer not found: install Python 3.11 (winget install Python.Python.3.11, or python.org) and run .\run.ps1 again'
}

$Py = Join-Path $Venv 'Scripts\python.exe'
if (-not (Test-Path -LiteralPath $Py)) {
    Step "creating virtual environment in $Venv"
    $python = @(Find-Python)
    $pyArgs = @($python | Select-Object -Skip 1) + @('-m', 'venv', $Venv)
    Invoke-Checked $python[0] $pyArgs
}
# What to install: the chat needs the [export] extra (torch, to make the ONNX export of the embedder
# once); the tests need [test]. Reinstalled when pyproject.toml, requirements.lock or the extras change.
$Extras = if ($Mode -eq 'test') { 'test' } else { 'export' }
$Lock = 'requirements.lock'
$key = (Get-FileHash -LiteralPath 'pyproject.toml' -Algorithm SHA256).Hash.Substring(0, 16).ToLower()
if (Test-Path -LiteralPath $Lock) { $key += '-' + (Get-FileHash -LiteralPath $Lock -Algorithm SHA256).Hash.Substring(0, 8).ToLower() }
$stamp = Join-Path $Venv ".installed-$Extras-$key"
if (-not (Test-Path -LiteralPath $stamp)) {
    Step "installing Python packages [$Extras] (first time: builds llama-cpp-python, ~10 min on 2 cores; cached after)"
    Invoke-Checked $Py @('-m', 'pip', 'install', '--quiet', '--upgrade', 'pip')
    # The CPU build of torch first, pinned, so nothing pulls a CUDA build.
    Invoke-Checked $Py @('-m', 'pip', 'install', '--quiet', '--no-deps', 'torch==2.13.0', '--index-url', 'https://download.pytorch.org/whl/cpu')
    # requirements.lock (when there is one) as constraints: every package at its pinned version.
    $constraints = @(if (Test-Path -LiteralPath $Lock) { '-c', $Lock })
    Invoke-Checked $Py (@('-m', 'pip', 'install', '--quiet') + $constraints + @('-e', ".[$Extras]"))
    New-Item -ItemType File -Path $stamp -Force | Out-Null
}
$A = Join-Path $Venv 'Scripts\assistant.exe'

switch ($Mode) {
    { $_ -in 'chat', 'setup' } {
        # Checks (with the fix for anything missing), models into $env:ASSISTANT_HOME\models
        # (sha256-verified, skipped when present), the ONNX export, seeds\ indexed (incremental).
        Invoke-Checked $A @('setup')
        if ($Mode -eq 'chat') {
            Step 'starting the browser chat'
            & $A chat @Rest
            exit $LASTEXITCODE
        }
        exit 0
    }
    'test' {
        # As for chat, plus the small test LLM; no first index (the tests build their own).
        Invoke-Checked $A @('setup', '--small', '--no-index')
        Step 'running tests'
        $saved = $ErrorActionPreference
        $ErrorActionPreference = 'Continue'
        try { & $Py -m pytest -ra @Rest } finally { $ErrorActionPreference = $saved }
        $rc = $LASTEXITCODE
        if ($rc -eq 5) {
            [Console]::Error.WriteLine('pytest collected no tests: treating as a failure')
            exit 1
        }
        exit $rc
    }
    default {
        [Console]::Error.WriteLine('usage: .\run.ps1 [chat|test|setup] [extra args]')
        exit 2
    }
}
