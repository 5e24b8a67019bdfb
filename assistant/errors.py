"""The few error types the assistant raises. The CLI prints their message, never a traceback."""


class AssistantError(Exception):
    """Base class: something the user can fix (bad input, missing model, missing index)."""


class InputError(AssistantError):
    """A bad question, file or argument."""


class ModelMissingError(AssistantError):
    """A model file or folder is not where the settings say; the message says how to get it."""


class EmbedderError(AssistantError):
    """The embedding model (an embeddings server) failed or answered wrongly."""


class IndexStoreError(AssistantError):
    """The index is missing, corrupt or built with another embedder."""


class IndexFileError(IndexStoreError):
    """One file of an index generation is missing or damaged: `path` is that file, `problem` what is
    wrong with it ("is missing", "holds 3 ids for 5 vectors"), `fix` what to run."""

    def __init__(self, path, problem: str, fix: str):
        super().__init__(f"{path} {problem}; {fix}.")
        self.path, self.problem = path, problem


class PromptError(AssistantError):
    """A prompt template is missing or a named slot is not filled."""


class GenerationError(AssistantError):
    """The language model (local or remote) failed."""
