"""Repository documents: ``discover_repositories`` (§6.7) and ``discover_repository_db`` (§6.8)."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ovm3.parse.xmldoc import child_map, parse_document, text_content


@dataclass
class Repository:
    """One repository with its contents. ``id`` is the repository uuid without dashes (the Name)."""

    id: str
    alias: str = ""
    version: str = ""
    manager_uuid: str = ""
    repository_uuid: str = ""
    templates: List[str] = field(default_factory=list)
    virtual_machines: List[str] = field(default_factory=list)
    virtual_disks: List[str] = field(default_factory=list)
    isos: List[str] = field(default_factory=list)


@dataclass
class Repositories:
    """``discover_repositories``: repositories by id, in document order."""

    repositories: Dict[str, Repository] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.repositories.values())

    def __len__(self):
        return len(self.repositories)

    def get(self, repo_id):
        return self.repositories.get(repo_id)


def _texts(node, path):
    return [text_content(el).strip() for el in node.iterfind(path)]


def parse_repositories(value):
    """``discover_repositories`` reply -> :class:`Repositories` (``<RepositoryList/>`` gives none)."""
    root = parse_document(value, "Discover_Repositories_Result", "discover_repositories")
    out = Repositories()
    for repo in root.iterfind("RepositoryList/Repository"):
        name = repo.get("Name")
        if not name:
            continue
        m = child_map(repo)
        out.repositories[name] = Repository(
            id=name, alias=m.get("Repository_Alias", ""), version=m.get("Version", ""),
            manager_uuid=m.get("Manager_UUID", ""), repository_uuid=m.get("Repository_UUID", ""),
            templates=_texts(repo, "Templates/Template/File"),
            virtual_machines=[vm.get("Name") for vm in repo.iterfind("VirtualMachines/VirtualMachine")
                              if vm.get("Name")],
            virtual_disks=_texts(repo, "VirtualDisks/Disk"), isos=_texts(repo, "ISOs/ISO"))
    return out


@dataclass
class RepositoryDbEntry:
    """One repository the agent's database knows, mounted or not."""

    uuid: str
    alias: str = ""
    fs_location: str = ""
    mount_point: str = ""
    filesystem_type: str = ""
    version: str = ""
    manager_uuid: str = ""
    status: str = ""

    @property
    def mounted(self):
        return self.status == "Mounted"


@dataclass
class RepositoryDb:
    """``discover_repository_db``: entries by uuid, in document order."""

    entries: Dict[str, RepositoryDbEntry] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.entries.values())

    def __len__(self):
        return len(self.entries)

    def get(self, uuid) -> Optional[RepositoryDbEntry]:
        return self.entries.get(uuid)


def parse_repository_db(value):
    """``discover_repository_db`` reply -> :class:`RepositoryDb`."""
    root = parse_document(value, "Discover_Repository_Db_Result", "discover_repository_db")
    out = RepositoryDb()
    for repo in root.iterfind("RepositoryDbList/Repository"):
        uuid = repo.get("Uuid")
        if not uuid:
            continue
        m = child_map(repo)
        out.entries[uuid] = RepositoryDbEntry(
            uuid=uuid, alias=m.get("Alias", ""), fs_location=m.get("Fs_location", ""),
            mount_point=m.get("Mount_point", ""), filesystem_type=m.get("Filesystem_type", ""),
            version=m.get("Version", ""), manager_uuid=m.get("Manager_uuid", ""), status=m.get("Status", ""))
    return out
