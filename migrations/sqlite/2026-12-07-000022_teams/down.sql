DROP TABLE workspace_team_access;
DROP TABLE team_members;
DROP TABLE teams;
